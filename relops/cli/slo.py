"""``relops slo import FILE…``: OpenSLO v1 and Sloth ``prometheus/v1`` files to ``[[flows]]`` entries;
``relops slo export --format openslo``: the config's flows as OpenSLO v1 SLO documents
(docs/guides/slos-as-code.md)."""

from __future__ import annotations

import stat
from pathlib import Path

import click

#: An SLO file is a few kilobytes; the bound keeps a wrong path (a log, an image) from being read whole.
MAX_FILE_BYTES = 4 * 1024 * 1024


@click.group()
def slo() -> None:
    """SLOs as code: OpenSLO and Sloth files in, OpenSLO out."""


@slo.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the [[flows]] entries to this file instead of printing them.",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) when any SLO is refused.")
def slo_import(files: tuple[Path, ...], output: Path | None, strict: bool) -> None:
    """Read OpenSLO v1 documents (SLO, SLI, DataSource, Service; AlertPolicy and the like are noted
    and skipped) and Sloth prometheus/v1 specs from FILES, and print the relops [[flows]] entries they
    make, each checked by relops' config model. What relops cannot express is refused, naming the
    file, the document and the field, never approximated; with nothing to write, exit 1."""
    from relops.slo_files.flows_toml import flows_toml
    from relops.slo_files.importing import import_files

    result = import_files([(str(path), _read(path)) for path in files])
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for refusal in result.refusals:
        click.echo(f"refused: {refusal}", err=True)
    refused = len(result.refusals)
    if not result.flows:
        raise click.ClickException(f"no flow to write: {refused} refused (above)")
    if strict and refused:
        raise click.ClickException(f"{refused} refused (above); nothing written (--strict)")
    names = ", ".join(path.name for path in files)
    text = f"# relops flows imported from {names} by relops slo import\n" + flows_toml(result.flows)
    _write(text, output)
    click.echo(f"{len(result.flows)} flow(s) imported, {refused} refused", err=True)


@slo.command("export")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["openslo"]),
    default="openslo",
    show_default=True,
    help="The format written: OpenSLO v1 (SLO documents with inline indicators).",
)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Default: RELOPS_CONFIG."
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the documents here instead of printing."
)
def slo_export(format_: str, config_file: Path | None, output: Path | None) -> None:
    """Write the config's flows as OpenSLO v1 SLO documents: ratio indicators over Prometheus counters
    (or of type relops for flows whose counts are pushed), occurrences over a rolling window of the
    flow's period, the objective as a target fraction; `relops slo import` reads them back to the
    same flows."""
    from relops.config.loader import load_config
    from relops.slo_files.openslo_out import export_openslo, openslo_caveats

    if config_file is None:
        from relops.settings import get_settings

        config_file = get_settings().config_path
    flows = load_config(config_file).flows
    for flow in flows:
        for caveat in openslo_caveats(flow):
            click.echo(f"note: flow {flow.name}: {caveat}", err=True)
    _write(export_openslo(flows), output)


def _read(path: Path) -> str:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise click.ClickException(f"{path}: not a regular file")
        if status.st_size > MAX_FILE_BYTES:
            raise click.ClickException(f"{path}: {status.st_size} bytes; an SLO file is at most {MAX_FILE_BYTES}")
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{output}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)
