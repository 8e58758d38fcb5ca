"""`flask --app wsgi catalog load data/catalog.json`, `flask --app wsgi fx load data/exchange_rates.json`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from service.catalog.loader import CatalogError, load_file
from service.catalog.rates import RatesError, load_rates_file

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


fx_cli = AppGroup("fx", help="Manage the exchange-rate table quotes are compared with.")


@fx_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_rates_command(path: Path) -> None:
    """Load (or update) the exchange-rate table from a JSON file; safe to run repeatedly."""
    try:
        report = load_rates_file(path)
    except RatesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"exchange rates {path}: {report}")
