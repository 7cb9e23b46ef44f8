"""Configuration from environment variables: declared once per function, read once at start-up.

A function's configuration is one model (``Settings``): each field names its variable (the
alias), its default, its bounds and what it means. The model is at once the loader (``load``),
the list of variables the function reads (``variables``) and the reference page
(``reference``, which docs/reference/configuration.md is generated from). Invalid configuration
stops the instance with a message that names the variable and the rule, never failing requests
one by one later, and never quoting a value that may hold a secret.
"""

import math
import os
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import annotated_types
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _flag(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _number(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None


def _whole_number(raw: Any) -> Any:
    value = _number(raw)
    # NaN and infinity have no whole number; the bounds' check says so.
    return int(value) if isinstance(value, float) and math.isfinite(value) else value


Flag = Annotated[bool, BeforeValidator(_flag)]
Number = Annotated[float, BeforeValidator(_number)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


def variable(
    name: str,
    *,
    description: str,
    default: Any = ...,
    ge: float | None = None,
    le: float | None = None,
    secret: bool = False,
    also: tuple[str, ...] = (),
    default_text: str | None = None,
    **options: Any,
) -> Any:
    """A field read from the environment variable ``name`` (or, failing that, ``also``).

    ``default_text`` describes a default that is computed (from another variable or the
    machine), for the reference page.
    """
    extra: dict[str, Any] = {"secret": True} if secret else {}
    if default_text is not None:
        extra["default_text"] = default_text
    alias: str | AliasChoices = AliasChoices(name, *also) if also else name
    return Field(
        default,
        validation_alias=alias,
        description=description,
        ge=ge,
        le=le,
        json_schema_extra=extra or None,
        **options,
    )


class Settings(BaseModel):
    """A function's configuration; subclasses declare their fields with ``variable``."""

    # By variable when loaded; by field name when built in code (a test, the local cloud).
    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    # Whose variables these are, above their table on the reference page.
    TITLE: ClassVar[str] = ""

    @classmethod
    def variables(cls) -> frozenset[str]:
        """Every variable the model reads."""
        return frozenset(name for names in _names_of(cls).values() for name in names)


def _names_of(model: type[Settings]) -> dict[str, tuple[str, ...]]:
    names: dict[str, tuple[str, ...]] = {}
    for field_name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names[field_name] = tuple(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names[field_name] = (alias,)
    return names


def load[S: Settings](model: type[S], env: Mapping[str, str] | None = None) -> S:
    """The model's values from ``env`` (the process environment by default); a variable that
    is unset or blank takes its default."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    for names in _names_of(model).values():
        for name in names:
            raw = env.get(name)
            if raw is not None and raw.strip() != "":
                values[name] = raw
                break
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ConfigError(_message(model, error)) from None


def _message(model: type[Settings], error: ValidationError) -> str:
    detail = error.errors(include_url=False)[0]
    location = detail["loc"]
    text = detail["msg"].removeprefix("Value error, ")
    if not location:
        return text  # a rule across variables: its text names them
    name = str(location[0])
    if name in model.model_fields:
        # A default is validated under its field's name: report the variable's.
        name = _names_of(model)[name][0]
    info = _field_by_variable(model, name)
    secret = info is not None and _extra(info).get("secret", False)
    kind = detail["type"]
    if kind == "missing":
        return f"{name}: required ({info.description})" if info is not None else f"{name}: required"
    if kind in {"greater_than_equal", "less_than_equal"} and info is not None:
        low, high = _bounds(info)
        got = "" if secret else f", got {str(detail['input'])!r}"
        return f"{name}: must be between {_shown(low)} and {_shown(high)}{got}"
    return f"{name}: {text}"


def _shown(number: float) -> str:
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _field_by_variable(model: type[Settings], name: str) -> FieldInfo | None:
    for field_name, names in _names_of(model).items():
        if name in names:
            return model.model_fields[field_name]
    return None


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _bounds(info: FieldInfo) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = float(constraint.ge)  # type: ignore[arg-type]
        elif isinstance(constraint, annotated_types.Le):
            high = float(constraint.le)  # type: ignore[arg-type]
    return low, high


def reference(model: type[Settings]) -> list[dict[str, str]]:
    """One row per variable, in declaration order: name (with its alternatives), default,
    accepted values and meaning; for the generated reference page."""
    rows = []
    for field_name, names in _names_of(model).items():
        info = model.model_fields[field_name]
        extra = _extra(info)
        if "default_text" in extra:
            default = str(extra["default_text"])
        elif info.is_required():
            default = "required"
        elif info.default is None:
            default = "unset"
        elif isinstance(info.default, bool):
            default = str(info.default).lower()
        elif isinstance(info.default, float):
            default = _shown(info.default)
        else:
            default = str(info.default)
        low, high = _bounds(info)
        if math.isfinite(low) and math.isfinite(high):
            accepted = f"{_shown(low)} to {_shown(high)}"
        elif info.annotation is bool:
            accepted = "true or false"
        else:
            accepted = ""
        if extra.get("secret"):
            accepted = (accepted + "; a secret" if accepted else "a secret").strip()
        rows.append(
            {
                "variable": " or ".join(names),
                "default": default,
                "accepted": accepted,
                "meaning": info.description or "",
            }
        )
    return rows


def check_redis_url(url: str) -> str:
    """``url`` if it is a Redis URL; the error never quotes it (it may carry a password)."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return url
