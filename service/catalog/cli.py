"""`flask --app wsgi catalog load data/catalog.json`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from service.catalog.loader import CatalogError, load_file

catalog_cli = AppGroup("catalog", help="Manage the clinic and treatment catalogue.")


@catalog_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_command(path: Path) -> None:
    """Load (or update) the catalogue from a JSON file; safe to run repeatedly."""
    try:
        report = load_file(path)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"catalogue {path}: {report}")
