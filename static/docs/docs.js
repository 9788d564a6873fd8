// Renders the OpenAPI document of this server (the URL is in #api's data-spec) into plain HTML.
// Text is only ever set with textContent: nothing from the document is parsed as HTML.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function resolveRef(spec, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return { name, schema: spec.components.schemas[name] || {} };
  }
  return { name: null, schema: schema || {} };
}

function typeText(spec, schema) {
  const { name, schema: s } = resolveRef(spec, schema);
  if (name) return name;
  if (s.anyOf) return s.anyOf.map((x) => typeText(spec, x)).join(" | ");
  if (s.enum) return s.enum.map((x) => JSON.stringify(x)).join(" | ");
  if (s.type === "array") return typeText(spec, s.items) + "[]";
  return [].concat(s.type || "any").join(" | ");
}

function propertiesTable(spec, schema) {
  const s = resolveRef(spec, schema).schema;
  const required = new Set(s.required || []);
  const rows = Object.entries(s.properties || {}).map(([name, prop]) => {
    const notes = [];
    if (prop.default !== undefined) notes.push("default " + JSON.stringify(prop.default));
    if (prop.maxLength) notes.push("at most " + prop.maxLength + " characters");
    if (prop.description) notes.push(prop.description);
    return el("tr", {},
      el("td", { class: "mono", text: name }, required.has(name) ? el("span", { class: "required", text: " required" }) : null),
      el("td", { class: "mono", text: typeText(spec, prop) }),
      el("td", { text: notes.join("; ") }));
  });
  if (!rows.length) return null;
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "field" }), el("th", { text: "type" }),
    el("th", { text: "notes" }))), el("tbody", {}, ...rows));
}

// an example from the description as indented JSON (text only), or nothing when there is none
function exampleBlock(title, media) {
  const example = media && media.examples && media.examples.example;
  if (!example) return null;
  return el("div", { class: "example" }, el("h4", { text: title }),
    el("pre", { class: "mono", text: JSON.stringify(example.value, null, 2) }));
}

function authText(spec, security) {
  if (!security || !security.length) return "no authentication";
  return security.map((req) => Object.keys(req).join(" + ") || "anonymous").join(" or ");
}

function renderOperation(spec, path, method, op) {
  const id = op.operationId;
  const details = el("div", { class: "details hidden" });
  if (op.description) details.append(el("p", { text: op.description }));
  details.append(el("p", { text: "Authentication: " + authText(spec, op.security) }));
  if (op.parameters && op.parameters.length) {
    details.append(el("h4", { text: "Path parameters" }));
    details.append(el("table", {}, el("tbody", {}, ...op.parameters.map((p) => el("tr", {},
      el("td", { class: "mono", text: p.name }), el("td", { text: p.description || "" }))))));
  }
  if (op.requestBody) {
    const media = op.requestBody.content["application/json"];
    details.append(el("h4", { text: "Request body" }));
    details.append(el("p", { text: op.requestBody.description || "" }));
    details.append(propertiesTable(spec, media.schema));
    details.append(exampleBlock("Example request", media));
  }
  details.append(el("h4", { text: "Responses" }));
  const rows = Object.entries(op.responses).map(([status, response]) => {
    const media = (response.content || {})["application/json"];
    return el("tr", {}, el("td", { class: "mono", text: status }), el("td", { text: response.description }),
      el("td", { class: "mono", text: media ? typeText(spec, media.schema) : "" }));
  });
  details.append(el("table", {}, el("tbody", {}, ...rows)));
  const success = Object.keys(op.responses).filter((status) => status.startsWith("2")).sort()[0];
  if (success) details.append(exampleBlock("Example answer (" + success + ")", (op.responses[success].content || {})["application/json"]));
  const header = el("header", {},
    el("span", { class: "method " + method, text: method.toUpperCase() }),
    el("span", { class: "path", text: path }),
    el("span", { class: "summary", text: op.summary + (op.deprecated ? " (legacy alias)" : "") }),
    el("span", { class: "auth", text: authText(spec, op.security) }));
  header.addEventListener("click", () => details.classList.toggle("hidden"));
  return el("section", { class: "op" + (op.deprecated ? " deprecated" : ""), id }, header, details);
}

function render(spec) {
  const main = document.getElementById("api");
  const toc = document.getElementById("toc");
  main.replaceChildren();
  const byTag = new Map((spec.tags || []).map((t) => [t.name, []]));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  main.append(el("p", { text: spec.info.description || "" }));
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    main.append(el("h2", { class: "tag", text: tag }));
    for (const [path, method, op] of ops) {
      main.append(renderOperation(spec, path, method, op));
      toc.append(el("a", { href: "#" + op.operationId, text: method.toUpperCase() + " " + path }));
    }
  }
  main.append(el("h2", { class: "tag", text: "Authentication" }));
  for (const [name, scheme] of Object.entries(spec.components.securitySchemes || {})) {
    main.append(el("p", {}, el("code", { text: name }), " " + (scheme.description || "")));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("api");
  fetch(main.dataset.spec, { headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(render)
    .catch((error) => main.replaceChildren(el("p", { class: "error", text: "Cannot load the API description: " + error.message })));
});
