"""The original's message strings (SPEC §3.4, §3.5), character for character, and ours."""

MISSING = "Missing required parameter in the JSON body or the post body or the query string"
DATE_HELP = "date format should be %Y-%m-%d %H:%M:%S."
ALERT_TIME_HELP = "alert_time should be ISO 8601, e.g. 2026-11-29T14:05:00Z (TradingView's {{timenow}})."
WRONG_PASSPHRASE = "incorrect passphrase."
NOT_FOUND = "item not found."
NOT_FOUND_PAIR = "Item not found"
INSERT_FAILED = "an error occurred inserting the item."
UPDATE_FAILED = "an error occurred updating the item."
DELETE_FAILED = "an error occurred deleting the item."
GET_FAILED = "an error occurred while getting the item(s)."
NOT_ADMIN = "'admin' privilege required."
TICKER_EXISTS = "'ticker' with that name already exists."
PAIR_EXISTS = "'pair' with that name already exists."
USER_EXISTS = "'username' already exists."
TICKER_ACTIVE_IN_PAIR = " ticker is already active in a pair!"
PAIR_TICKER_ACTIVE = " one of the tickers is already active!"
PROBLEMATIC_TICKER = "problematic ticker!"
WEBHOOK_PROBLEMATIC = "recorded with problematic ticker!"
WEBHOOK_UNKNOWN = "recorded with unknown or passive ticker!"
PARTIAL_WITHOUT_QTY = "missing contract amount to update partial fill"
BAD_LOGIN = "Invalid Credentials!"
LOGGED_OUT = "Successfully logged out"
BAD_REQUEST = "The browser (or proxy) sent a request that this server could not understand."
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
URL_NOT_FOUND = ("The requested URL was not found on the server. If you entered the URL manually please check "
                 "your spelling and try again.")
CSRF_FAILED = "CSRF token missing or incorrect."

# ours
BODY_NOT_OBJECT = "the request body must be a JSON object."
BODY_TOO_LARGE = "the request body is larger than {limit} bytes."
INVALID_JSON = "invalid JSON at line {line} column {column}: {reason}"  # the "detail" next to BAD_REQUEST (A.3)
JSON_TOO_DEEP = "the JSON is nested too deeply to read"
PASSWORD_TOO_LONG = "'password' cannot be longer than 72 bytes."
LAST_ADMIN = "the last admin user cannot be deleted."
TOO_MANY_LOGINS = "too many failed logins; try again in {seconds} seconds."
BAD_USERNAME = "a username is 1 to 64 printable characters, without leading or trailing spaces."
PASSWORD_TOO_SHORT = "the password is shorter than 8 characters"
SOURCE_NOT_ALLOWED = "webhooks are not accepted from this address."
HTTPS_REQUIRED = "use HTTPS."
INTERNAL_ERROR = "internal server error; the server log has the details."
DB_UNAVAILABLE = "the database is unavailable right now; nothing was changed, try again in a moment."
BAD_YAHOO_SYMBOL = "a Yahoo symbol has letters, digits and . - = ^ & only, at most 40 of them."
SCREENER_STARTED = "screener run started."
SCREENER_BUSY = "a screener run is already in progress."


def created(thing: str) -> str:
    return f"'{thing}' created successfully."


def deleted(thing: str) -> str:
    return f"'{thing}' deleted successfully."


def bad_activity(field: str) -> str:
    return f"'{field}' must be 1 (active), 0 (passive) or -1 (watchlist)."


def empty(field: str) -> str:
    return f"'{field}' cannot be empty!"
