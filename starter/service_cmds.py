"""`byok service`: the vendor's own AWS side (templates published to S3, the consumer)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from starter.context import console, context, emit, run

service_app = typer.Typer(help="The service's own AWS resources.", no_args_is_help=True)


@service_app.command("publish-templates")
def publish(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Upload every tenant template version to the template bucket (content-addressed keys:
    a published URL never changes what it serves)."""
    ctx = context()

    def body() -> None:
        from activities.aws import AwsClients
        from control.templates import publish_templates

        urls = publish_templates(AwsClients(ctx.settings).base("s3"), ctx.settings)

        def show() -> None:
            for version, url in urls.items():
                console.print(f"template v{version}: {url}")
        emit({f"v{v}": url for v, url in urls.items()}, as_json, show)
    run(body)


@service_app.command("consumer")
def consumer() -> None:
    """Long-poll the stack-callback queue and hand each request to its workflow (one of any
    number of consumers; `byok up` starts one)."""
    from control.consumer import main

    asyncio.run(main())
