"""Asymmetric key material is generated on first use (not for every CreateKey): signing,
verifying and public keys still behave, and a replica shares its primary's key pair."""

from __future__ import annotations

from localaws import TENANT_ACCOUNT

from .conftest import Target


def test_sign_verify_and_public_key_on_lazily_generated_keys(local: Target) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    for spec, algorithm in (("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256")):
        key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
        check = kms.verify(KeyId=key_id, Message=b"m", Signature=signature,
                           SigningAlgorithm=algorithm)
        assert check["SignatureValid"] is True
        assert kms.get_public_key(KeyId=key_id)["PublicKey"]


def test_a_replica_shares_its_primarys_key_pair(local: Target) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", MultiRegion=True)[
        "KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    replica = local.client("kms", TENANT_ACCOUNT, "eu-west-1")
    assert replica.get_public_key(KeyId=key_id)["PublicKey"] == (
        kms.get_public_key(KeyId=key_id)["PublicKey"]
    )
