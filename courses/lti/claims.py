"""The shape every launch claim must have, checked before anything acts on the launch.

A platform-signed token is trusted to come from the platform, not to be well-formed: a `custom` claim
that is a string or a `resource_link` that is a list used to fail deep inside the launch (after the
user was signed in). `check_claims` raises InvalidClaims naming the claim; the launch turns it into
an LTI rejection (tool.HardenedMessageLaunch.validate).
"""

from __future__ import annotations

from typing import Any

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/"
MAX_ID = 255  # ids we store (sub, context id, resource link id) fit a CharField(255)



class InvalidClaims(Exception):
    """A launch token whose payload or claims do not have the shape LTI 1.3 gives them."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_STR = (str,)
_SCALAR = (str, int, float, bool, type(None))
_NUMBER = (int, float)

# claim -> (allowed types, required). Claims not listed are ignored (never read by the tool).
TOP_LEVEL: dict[str, tuple[tuple[type, ...], bool]] = {
    "iss": (_STR, True),
    "sub": (_STR, True),
    "aud": ((str, list), True),
    "azp": (_STR, False),
    "nonce": (_STR, True),
    "exp": (_NUMBER, True),
    "iat": (_NUMBER, True),
    "name": (_STR, False),
    "given_name": (_STR, False),
    "family_name": (_STR, False),
    "email": (_STR, False),
    CLAIM + "message_type": (_STR, True),
    CLAIM + "version": (_STR, True),
    CLAIM + "deployment_id": (_STR, True),
    CLAIM + "target_link_uri": (_STR, False),
    CLAIM + "roles": ((list,), True),
    CLAIM + "context": ((dict,), False),
    CLAIM + "resource_link": ((dict,), False),
    CLAIM + "custom": ((dict,), False),
    CLAIM + "launch_presentation": ((dict,), False),
    CLAIM + "tool_platform": ((dict,), False),
    DL_CLAIM + "deep_linking_settings": ((dict,), False),
    NRPS_CLAIM + "namesroleservice": ((dict,), False),
    AGS_CLAIM + "endpoint": ((dict,), False),
}
# Fields of object claims that the tool (or django-lti) reads.
FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    CLAIM + "context": {"id": (_STR, True), "title": (_STR, False), "label": (_STR, False),
                        "type": ((list,), False)},
    CLAIM + "resource_link": {"id": (_STR, True), "title": ((str, type(None)), False),
                              "description": ((str, type(None)), False)},
    DL_CLAIM + "deep_linking_settings": {"deep_link_return_url": (_STR, True), "data": ((str, type(None)), False),
                                         "accept_types": ((list,), False)},
}


_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
          float: "a number", type(None): "null"}


def _kind(value: Any) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def _short(name: str) -> str:
    """ "https://purl.imsglobal.org/spec/lti/claim/custom" -> "custom" (the name platforms document)."""
    return name.rsplit("/", 1)[-1]


def _check(name: str, value: Any, types: tuple[type, ...], required: bool, present: bool) -> None:
    name = _short(name)
    if not present:
        if required:
            raise InvalidClaims(f'The launch has no "{name}" claim.')
        return
    # bool is an int in Python; a number claim must not be true/false.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(sorted({_NAMES[t] for t in types}))
        raise InvalidClaims(f'The launch claim "{name}" must be {expected}, not {_kind(value)}.')


def check_claims(body: Any, *, only: tuple[str, ...] = ()) -> None:
    """Refuse a launch whose payload or any claim the tool reads has the wrong type or size; with `only`,
    just those top-level claims (what the registration lookup reads before the signature is checked)."""
    if not isinstance(body, dict):
        raise InvalidClaims(f"The id_token's payload must be a JSON object, not {_kind(body)}.")
    for name, (types, required) in TOP_LEVEL.items():
        if not only or name in only:
            _check(name, body.get(name), types, required, name in body)
    if isinstance(body.get("aud"), list) and not all(isinstance(a, str) for a in body["aud"]):
        raise InvalidClaims('The launch claim "aud" must list strings only.')
    if only:
        return
    for name, fields in FIELDS.items():
        claim = body.get(name)
        for field, (types, required) in (fields.items() if claim is not None else ()):
            _check(f"{name}.{field}", claim.get(field), types, required, field in claim)
    if not all(isinstance(r, str) for r in body[CLAIM + "roles"]):
        raise InvalidClaims('The launch claim "roles" must list strings only.')
    custom = body.get(CLAIM + "custom") or {}
    if not all(isinstance(v, _SCALAR) for v in custom.values()):
        raise InvalidClaims('The values of the launch claim "custom" must be strings, numbers or booleans.')
    ids = {"sub": body["sub"], "context.id": (body.get(CLAIM + "context") or {}).get("id", ""),
           "resource_link.id": (body.get(CLAIM + "resource_link") or {}).get("id", "")}
    for name, value in ids.items():
        if len(value) > MAX_ID:
            raise InvalidClaims(f'The launch claim "{name}" is longer than {MAX_ID} characters.')
    if not body["sub"].strip():
        raise InvalidClaims('The launch claim "sub" is empty.')
