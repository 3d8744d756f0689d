"""The errors adapters raise; the HTTP layer maps them to status codes.

AdapterError                 every adapter failure, with the platform's name
├── RequestRejected          an inbound request we refuse; carries the HTTP status and a reason
│   ├── SignatureError       401: bad or missing signature, stale timestamp
│   ├── PayloadError         422: the body does not parse; names the field
│   └── PayloadTooLarge      413: body or text over the channel's limit
└── PlatformCallError        a call to the platform's API failed (reading messages, changing a session);
    │                        says whether and when to retry
    └── DeliveryError        sending a message to the platform failed
"""

from __future__ import annotations


class AdapterError(Exception):
    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason


class RequestRejected(AdapterError):
    status_code = 400


class SignatureError(RequestRejected):
    status_code = 401


class PayloadError(RequestRejected):
    status_code = 422

    def __init__(self, platform: str, reason: str, *, field: str | None = None) -> None:
        super().__init__(platform, reason)
        self.field = field


class PayloadTooLarge(RequestRejected):
    status_code = 413


class PlatformCallError(AdapterError):
    """An API call the platform refused or never answered; `retry_after` is the platform's own hint in seconds."""

    def __init__(
        self,
        platform: str,
        reason: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(platform, reason)
        self.retryable = retryable
        self.retry_after = retry_after


class DeliveryError(PlatformCallError):
    """A send that did not reach the customer."""
