"""`byok provision`: the service's own AWS resources, made before any worker starts."""

from __future__ import annotations

from collections.abc import Mapping

from byok.settings import Settings


def provision(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Make the service's role, callback topic and queue, bucket and default key
    (idempotent). `env`: the credentials and endpoint the stack's children get, when `byok up`
    provisions its localaws for them."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from byok.aws import AwsClients, map_error
    from control.service import ensure_service_resources

    session = None
    if env is not None:
        settings = settings.model_copy(update={
            "aws_endpoint_url": env.get("BYOK_AWS_ENDPOINT_URL", settings.aws_endpoint_url)})
        session = boto3.Session(aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                                aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                                region_name=settings.control_plane_region)
    try:
        ensure_service_resources(AwsClients(settings, session), settings)
    except (ClientError, BotoCoreError) as exc:  # printed plainly, as every refusal is
        raise map_error(exc) from None
