"""People on the web front ends: accounts with argon2id passwords, server-side sessions,
sign-in throttling, password resets by mail, and the policy of who may sign up."""

from levante.identity.accounts import (
    WRONG_SIGN_IN,
    SignupPolicy,
    change_password,
    check_reset_token,
    delete_account,
    open_invitation,
    personal_organization,
    request_password_reset,
    reset_password,
    role_in,
    sign_in,
    sign_up,
)
from levante.identity.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from levante.identity.sessions import (
    SESSION_DAYS,
    OpenedSession,
    SignedIn,
    end_session,
    end_sessions,
    find_session,
    open_session,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SESSION_DAYS",
    "WRONG_SIGN_IN",
    "OpenedSession",
    "SignedIn",
    "SignupPolicy",
    "change_password",
    "check_reset_token",
    "delete_account",
    "end_session",
    "end_sessions",
    "find_session",
    "open_invitation",
    "open_session",
    "personal_organization",
    "request_password_reset",
    "reset_password",
    "role_in",
    "sign_in",
    "sign_up",
]
