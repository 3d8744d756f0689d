"""The `kefu` command: set up a development .env, migrate the database, serve."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from app import cli_agents, cli_faq, cli_promo, cli_replay, cli_report, cli_route

app = typer.Typer(help="kefu: customer-service bot and human-handoff router.", no_args_is_help=True)
app.add_typer(cli_faq.app, name="faq")
app.add_typer(cli_route.app, name="route")
app.add_typer(cli_agents.app, name="agents")
app.add_typer(cli_promo.app, name="promo")
app.add_typer(cli_report.app, name="report")
app.command("export")(cli_replay.export)
app.command("replay")(cli_replay.replay)


@app.command()
def init(env_file: Annotated[Path, typer.Option(help="Where to write the settings file.")] = Path(".env")) -> None:
    """Write a development .env with a random web-channel secret, unless one exists."""
    if env_file.exists():
        typer.echo(f"{env_file} exists; leaving it as it is.")
        return
    env_file.write_text(
        "# Written by `kefu init` for local development. See README.md for every setting.\n"
        f"KEFU_WEB__SECRET={secrets.token_hex(32)}\n"
        f"KEFU_OPS__TOKEN={secrets.token_hex(24)}\n"
        "# KEFU_WEB__CALLBACK_URL=http://127.0.0.1:9000/kefu-callback\n",
        encoding="utf-8",
    )
    typer.echo(
        f"Wrote {env_file} with a random KEFU_WEB__SECRET (sign web-channel requests with it) "
        "and KEFU_OPS__TOKEN (the bearer token of the ops API)."
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database tables (Alembic) at KEFU_DATABASE_URL."""
    from app.settings import get_settings
    from app.store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request (costs throughput).")] = False,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(help="Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs)."),
    ] = None,
) -> None:
    """Run the HTTP service (webhooks, chat widget, health) with uvicorn."""
    import uvicorn

    from app.http_server import HttpProtocol
    from app.main import create_app
    from app.settings import get_settings

    settings = get_settings()
    typer.echo(f"kefu on http://{host}:{port}  (chat page: http://{host}:{port}/chat)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        http=HttpProtocol,  # each response in one write
        access_log=access_log,
        proxy_headers=trusted_proxies is not None,  # the client's IP, for the per-IP webhook limit
        forwarded_allow_ips=trusted_proxies,
        log_config=None,
        timeout_graceful_shutdown=int(settings.engine.drain_seconds) + 5,
    )


def main() -> None:
    app()
