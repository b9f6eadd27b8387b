"""The configuration reference (docs/reference/configuration.md) is written from the config models:
the committed page is what the generator writes now, and every key it lists says what it does."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from relops.cli.config import REFERENCE_PAGE as PAGE
from relops.cli.config import reference_page as current_page
from relops.config import RelopsConfig
from relops.config.reference import ChannelDefaults, configuration_reference

ROOT = Path(__file__).resolve().parents[2]


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    seen = seen | {model}
    for field in model.model_fields.values():
        for candidate in _types_in(field.annotation):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in seen:
                seen |= _models(candidate, seen)
    return seen


def _types_in(annotation: object) -> list[object]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *(t for arg in args for t in _types_in(arg))]


def test_the_committed_configuration_reference_is_what_the_models_say_now() -> None:
    committed = (ROOT / PAGE).read_text()
    assert committed == current_page(), (
        f"{PAGE} differs from what relops.config.reference writes from the config models now: "
        "run `make docs` and commit the page"
    )


def test_every_key_of_the_config_file_has_a_description() -> None:
    """Sections are described by their model's docstring; every other key by its Field(description=...)."""
    missing = sorted(
        f"{model.__name__}.{name}"
        for model in _models(RelopsConfig, set())
        for name, field in model.model_fields.items()
        if not field.description and not _is_section(field.annotation)
    )
    assert not missing, f"add Field(description=...) to {', '.join(missing)}"
    assert all(model.__doc__ for model in _models(RelopsConfig, set()))


def _is_section(annotation: object) -> bool:
    return any(isinstance(t, type) and issubclass(t, BaseModel) for t in _types_in(annotation))


def test_the_reference_states_the_models_defaults_and_bounds() -> None:
    page = configuration_reference([], {})
    default = RelopsConfig().evaluation.tick_interval_s
    assert f"| `tick_interval_s` | integer | `{default}` | 10 to 3,600 |" in page
    assert "| `objective_percent` | number | required | > 0, < 100 |" in page
    assert "| `group_wait_s` | number | `5.0` | 0 to 600 |" in page
    assert "| `continue` | boolean | `false` |" in page, "a key is listed under its name in the file"
    assert '| `"24h"` | `86400` | `30` | `1.5` | `3` |' in page, "the default windows"
    assert "## `[[route.routes]]` { #route-routes }" in page


def test_the_channel_types_defaults_are_listed_beside_their_section() -> None:
    page = configuration_reference(
        [ChannelDefaults("pager", ("critical",), 0.5, False, "pager", ("token_env",), None)],
        {"repeat_interval_s": 14400},
    )
    assert '| `pager` | `alerts.pager` | `relops.notify_pager` | `["critical"]` | `0.5` | `false` |' in page
    assert "| `repeat_interval_s` | `14400` (4 h) |" in page
