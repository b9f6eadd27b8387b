"""YAML in and out with exact numbers: a YAML float is read as a Decimal from its text (0.999 stays
0.999, so an objective of 99.9 never becomes 99.90000000000001) and a Decimal is written as a YAML
float with every digit. Pure: text in, values out."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml


class _ExactLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no arbitrary objects), floats as Decimal."""


def _exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal | float:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    try:
        number = Decimal(text)
    except InvalidOperation:
        # YAML 1.1's other float forms (.inf, .nan, base 60): the safe loader's reading.
        return float(loader.construct_yaml_float(node))
    return number if number.is_finite() else float(number)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


class _ExactDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, Decimals as YAML floats with all their digits."""

    def ignore_aliases(self, data: Any) -> bool:
        # Anchors and aliases (&id001, *id001) for a repeated value are valid YAML but make a
        # document hard to read and to edit; every value is written out.
        return True


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value, "f")
    if "." not in text:
        text += ".0"  # YAML 1.1 reads a float only with a dot
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_ExactDumper.add_representer(Decimal, _decimal)


class YamlError(ValueError):
    """The text is not YAML: the parser's message, with the line."""


def load_documents(text: str) -> list[Any]:
    """Every document of a (multi-document) YAML text, empty ones left out; a document that is a
    list (as ``oslo`` accepts) counts as its items."""
    try:
        loaded = list(yaml.load_all(text, Loader=_ExactLoader))  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}") from None
    except RecursionError:
        # PyYAML composes nested collections recursively; thousands of "[" exhaust the stack.
        raise YamlError("not valid YAML here: nested too deeply") from None
    documents: list[Any] = []
    for document in loaded:
        if document is None:
            continue
        if isinstance(document, list):
            documents.extend(document)
        else:
            documents.append(document)
    return documents


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """``documents`` as one multi-document YAML text, keys in the order given."""
    return yaml.dump_all(
        documents, Dumper=_ExactDumper, sort_keys=False, allow_unicode=True, explicit_start=True, width=1000
    )
