"""`byok service` (deploy, publish-templates, consumer) and `byok doctor`: the vendor's side
of a deployment."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

service_app = typer.Typer(help="The service's own AWS resources.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
    app.command("doctor")(doctor)


@service_app.command("deploy")
def deploy(as_json: JsonOpt = False) -> None:
    """Create or update the service stack (topic, queue, buckets, role) and print its outputs."""
    # Imports inside the body keep `byok --help` from loading boto3.
    from dataclasses import asdict

    from byok.aws import AwsClients
    from control.service_deploy import deploy_service_stack
    from starter.context import console, context, emit, run

    ctx = context()
    out = run(lambda: deploy_service_stack(AwsClients(ctx.settings), ctx.settings))
    data = asdict(out)

    def human() -> None:
        console.print(f"service stack {ctx.settings.service_stack_name}: [bold]{out.action}[/]")
        for key, value in data.items():
            if key != "action" and value:
                console.print(f"  {key:22} {value}", highlight=False, soft_wrap=True)
    emit(data, as_json, human)


def doctor(as_json: JsonOpt = False) -> None:
    """Check the deployment and say what is wrong and how to fix it (exit 1 if anything is)."""
    from dataclasses import asdict

    from byok.aws import AwsClients
    from starter.context import console, context, emit, run
    from starter.doctor import run_doctor

    ctx = context()
    findings = run(lambda: run_doctor(AwsClients(ctx.settings), ctx.settings))

    def human() -> None:
        for f in findings:
            mark = "[green]ok[/]  " if f.ok else "[bold red]FAIL[/]"
            console.print(f"{mark} {f.check:18} {f.detail}", highlight=False)
            if f.fix:
                console.print(f"       fix: {f.fix}", highlight=False)
    emit([asdict(f) for f in findings], as_json, human)
    if not all(f.ok for f in findings):
        raise typer.Exit(1)


@service_app.command("publish-templates")
def publish(as_json: JsonOpt = False) -> None:
    """Upload every tenant template version to the template bucket (content-addressed keys:
    a published URL never changes what it serves)."""
    from byok.aws import AwsClients
    from control.templates import publish_templates
    from starter.context import console, context, emit, run

    ctx = context()

    def body() -> None:
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
