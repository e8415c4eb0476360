"""gspread's HTTP client made fit for a daemon: configurable endpoint, patient retries, plain errors.

gspread has no base-URL option, but every call it makes goes through ``HTTPClient.request``; this
subclass (passed to ``gspread.Client(http_client=...)``) does three things there:

1. rewrites ``https://sheets.googleapis.com`` and ``https://www.googleapis.com`` to
   ``register.api_endpoint`` when that is not Google's (an emulator, a proxy);
2. retries 408/429/500/502/503/504 and dropped connections under ``daemon.retry`` (exponential
   backoff with full jitter, honouring ``Retry-After``, capped tries and total wait), logging each
   retry once at WARNING on ``parkdesk.register``, then raises ``RegisterUnavailable``;
3. turns every other failure into a ``RegisterError`` whose message says what to fix.

It counts the requests it sends per kind (``values.append``, ``values.batchGet`` ...), retries
included: that is what Google's quotas count.
"""

from __future__ import annotations

import logging
import random as _random
import re
import time
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.http_client import HTTPClient
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from daemon.logs import register_secret
from daemon.register.errors import (
    RegisterAccessError,
    RegisterError,
    RegisterUnavailable,
)
from daemon.retry import (
    Backoff,
    RetryExhausted,
    RetryState,
    call_with_retry,
    parse_retry_after,
)

log = logging.getLogger("parkdesk.register")

DEFAULT_API_ENDPOINT = "https://sheets.googleapis.com"
GOOGLE_ORIGINS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
STATUS_WORDS = {
    408: "request timeout",
    429: "quota exceeded",
    500: "internal error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
# Drive answers some quota errors with 403 and one of these reasons.
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
# Requests that must not be sent twice when the first may have arrived (a second append = two rows).
NOT_IDEMPOTENT = frozenset({"values.append", "spreadsheets.batchUpdate", "spreadsheets.create"})


QUOTA_WAIT_SECONDS = 16.0


class TransientFailure(Exception):
    """A failure worth another try: a retryable status or a connection that did not work."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


def rewrite_url(url: str, api_endpoint: str) -> str:
    """Point a Google API URL at ``api_endpoint``; unchanged when that is Google's own.

    >>> rewrite_url("https://sheets.googleapis.com/v4/spreadsheets/abc", "http://127.0.0.1:8080")
    'http://127.0.0.1:8080/v4/spreadsheets/abc'
    """
    endpoint = api_endpoint.rstrip("/")
    if not endpoint or endpoint == DEFAULT_API_ENDPOINT:
        return url
    for origin in GOOGLE_ORIGINS:
        if url == origin or url.startswith(origin + "/"):
            return endpoint + url[len(origin):]
    return url


def classify_request(method: str, url: str) -> str:
    """The API method a request calls, for counting: ``"values.append"``, ``"drive.get"`` ..."""
    path = urlsplit(url).path
    method = method.upper()
    sheets = re.match(r"^/v4/spreadsheets(?:/([^/:]+))?(.*)$", path)
    if sheets:
        spreadsheet_id, rest = sheets.groups()
        if not spreadsheet_id:
            return "spreadsheets.create" if method == "POST" else "spreadsheets.list"
        if rest == "":
            return "spreadsheets.get"
        if rest == ":batchUpdate":
            return "spreadsheets.batchUpdate"
        if rest.startswith("/values:"):
            return "values." + rest[len("/values:"):]
        if rest.startswith("/values/"):
            for verb in (":append", ":clear"):
                if rest.endswith(verb):
                    return "values." + verb[1:]
            return {"GET": "values.get", "PUT": "values.update"}.get(method, f"values.{method.lower()}")
        if rest.startswith("/sheets/"):
            return "sheets.copyTo"
    if path.startswith(("/drive/", "/upload/drive/")):
        return f"drive.{method.lower()}"
    return f"{method} {path}"


def spreadsheet_id_of(url: str) -> str:
    """The spreadsheet (file) id in a Sheets or Drive URL, or "" if there is none."""
    path = urlsplit(url).path
    match = re.match(r"^/(?:v4/spreadsheets|drive/v3/files|upload/drive/v2/files)/([^/:]+)", path)
    return unquote(match.group(1)) if match else ""


def describe_response(response: requests.Response) -> str:
    """``"429 quota exceeded"``: the status and a few plain words."""
    words = STATUS_WORDS.get(response.status_code)
    if words is None:
        try:
            words = HTTPStatus(response.status_code).phrase.lower()
        except ValueError:
            words = "unexpected answer"
    return f"{response.status_code} {words}"


def google_error(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Google error body (``{}`` if the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_reasons(error: dict[str, Any]) -> set[str]:
    """The machine-readable reasons in a Google error (``details[].reason``, ``errors[].reason``)."""
    reasons = set()
    for group in ("details", "errors"):
        for item in error.get(group) or ():
            if isinstance(item, dict) and item.get("reason"):
                reasons.add(str(item["reason"]))
    return reasons


def _never_reached_server(error: BaseException) -> bool:
    """True when a connection error happened before the request could be sent."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    for arg in getattr(error, "args", ()):
        reason = getattr(arg, "reason", arg)
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return True
    return False


class RegisterHTTPClient(HTTPClient):
    """gspread's ``HTTPClient`` with endpoint rewriting, bounded retries and plain-language errors.

    gspread builds it as ``http_client(auth, session)``; bind the options with ``functools.partial``::

        gspread.Client(auth=creds, http_client=functools.partial(
            RegisterHTTPClient, api_endpoint="http://127.0.0.1:8080", sleep=fake_sleep))
    """

    def __init__(
        self,
        auth: Any,
        session: requests.Session | None = None,
        *,
        api_endpoint: str = DEFAULT_API_ENDPOINT,
        backoff: Backoff | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
        timeout: float | tuple[float, float] | None = (10.0, 60.0),
        credentials_file: str = "",
    ) -> None:
        super().__init__(auth, session)
        self.api_endpoint = api_endpoint.rstrip("/") or DEFAULT_API_ENDPOINT
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.random = random
        self.timeout = timeout
        self.credentials_file = credentials_file
        self.request_counts: Counter[str] = Counter()

    @property
    def service_account_email(self) -> str:
        return str(getattr(getattr(self, "auth", None), "service_account_email", "") or "")

    def request(  # type: ignore[override]
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        files: Any = None,
        headers: Any = None,
    ) -> requests.Response:
        url = rewrite_url(endpoint, self.api_endpoint)
        kind = classify_request(method, url)

        def send_once() -> requests.Response:
            self.request_counts[kind] += 1
            response = self._send(kind, method, url, params, data, json, files, headers)
            if response.ok:
                return response
            if response.status_code in RETRYABLE_STATUSES or self._is_rate_limit(response):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None and (
                    response.status_code == 429 or self._is_rate_limit(response)
                ):
                    # Google's quotas refill per minute and its 429s carry no Retry-After:
                    # wait at least QUOTA_WAIT_SECONDS so a few tries span a whole minute.
                    retry_after = QUOTA_WAIT_SECONDS
                raise TransientFailure(describe_response(response), retry_after)
            raise self._explain(response, url)

        try:
            return call_with_retry(
                send_once,
                backoff=self.backoff,
                should_retry=lambda error: isinstance(error, TransientFailure),
                retry_after=lambda error: getattr(error, "retry_after", None),
                sleep=self.sleep,
                random=self.random,
                before_sleep=lambda state: self._log_retry(kind, state),
            )
        except RetryExhausted as exhausted:
            last = getattr(exhausted.last_error, "description", str(exhausted.last_error))
            raise RegisterUnavailable(
                f"Google Sheets did not answer after {exhausted.attempts} tries (last: {last}); "
                "ParkDesk will try again next cycle"
            ) from exhausted.last_error

    def _send(self, kind, method, url, params, data, json, files, headers) -> requests.Response:
        """One HTTP exchange; connection trouble becomes ``TransientFailure`` or a plain error."""
        try:
            response = self.session.request(
                method=method,
                url=url,
                json=json,
                params=params,
                data=data,
                files=files,
                headers=headers,
                timeout=self.timeout,
            )
            # The access token the session got (or renewed) for it: masked in every log line.
            register_secret(getattr(getattr(self, "auth", None), "token", None), short_lived=True)
            return response
        except RefreshError as error:
            if error.retryable:
                raise TransientFailure("the token service did not answer") from error
            raise self._key_refused(error) from error
        except TransportError as error:
            raise TransientFailure("could not reach the token service") from error
        except (requests.ConnectionError, requests.Timeout) as error:
            if kind in NOT_IDEMPOTENT and not _never_reached_server(error):
                raise RegisterUnavailable(
                    f"The connection to Google Sheets broke during {kind}, so ParkDesk cannot tell "
                    "whether it was done; it will look at the register again next cycle"
                ) from error
            what = "timed out" if isinstance(error, requests.Timeout) else "connection failed"
            raise TransientFailure(f"{what} ({type(error).__name__})") from error

    @staticmethod
    def _is_rate_limit(response: requests.Response) -> bool:
        return response.status_code == 403 and bool(
            error_reasons(google_error(response)) & RATE_LIMIT_REASONS
        )

    def _log_retry(self, kind: str, state: RetryState) -> None:
        description = getattr(state.error, "description", str(state.error))
        log.warning(
            "Google Sheets %s failed (%s); try %d of %d in %.1f s",
            kind,
            description,
            state.attempt + 1,
            state.max_attempts,
            state.delay,
        )

    def _key_file(self) -> str:
        where = f" ({self.credentials_file})" if self.credentials_file else ""
        return f"register.credentials_file{where}"

    def _key_refused(self, error: RefreshError) -> RegisterAccessError:
        reason = str(error.args[0]) if error.args else "no reason given"
        return RegisterAccessError(
            f"Google refused the service-account key in {self._key_file()}: {reason[:200]}. "
            "The key may have been deleted or its service account disabled: create a new JSON key "
            "(Google Cloud console > IAM & Admin > Service accounts > Keys) and point "
            "register.credentials_file at it."
        )

    def _explain(self, response: requests.Response, url: str) -> RegisterError:
        """A plain message for a failure that retrying will not fix."""
        status = response.status_code
        error = google_error(response)
        message = str(error.get("message") or response.text or "").strip()[:300]
        email = self.service_account_email or "the service account"
        spreadsheet_id = spreadsheet_id_of(url)
        if status == 403:
            if "SERVICE_DISABLED" in error_reasons(error) or "has not been used" in message:
                return RegisterAccessError(
                    f"The Google Sheets API is not enabled in the Google Cloud project of {email}. "
                    "Enable it (Google Cloud console > APIs & Services > Library > Google Sheets "
                    f"API), wait a few minutes, and ParkDesk will try again. Google says: {message}",
                    status=status,
                )
            return RegisterAccessError(
                f"The service account {email} cannot open spreadsheet {spreadsheet_id}. Share the "
                f"sheet with {email} as Editor (Share button in Google Sheets).",
                status=status,
            )
        if status == 404:
            return RegisterAccessError(
                f"The spreadsheet id in register.spreadsheet_id ({spreadsheet_id}) does not exist. "
                "Copy the id from the sheet's address: "
                "https://docs.google.com/spreadsheets/d/<this part>/edit",
                status=status,
            )
        if status == 401:
            return RegisterAccessError(
                f"Google did not accept the credentials of {email} from {self._key_file()}: "
                f"{message}. Create a new JSON key for the service account and point "
                "register.credentials_file at it.",
                status=status,
            )
        return RegisterError(
            f"Google Sheets refused a request ({describe_response(response)}): {message}",
            status=status,
        )
