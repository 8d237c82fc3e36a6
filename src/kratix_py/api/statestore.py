"""GitStateStore and BucketStateStore: where Destinations' files are written.

One deliberate difference from Kratix: Kratix never verifies TLS certificates for Git. kratix-py
verifies them unless ``spec.insecureSkipTLSVerify`` is true.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from kratix_py.api.meta import HasConditions, KubeModel, KubeObject


class SecretReference(KubeModel):
    """A Secret by name and namespace (core/v1 SecretReference)."""

    name: str | None = Field(default=None, description="Name of the Secret.")
    namespace: str | None = Field(default=None, description="Namespace of the Secret.")


class GitSecretRef(SecretReference):
    """The Secret with the Git credentials; its keys depend on authMethod."""

    namespace: str = Field(default="default", description="Namespace of the Secret.")


class GitAuthor(KubeModel):
    """Author and committer of Kratix's commits."""

    name: str = Field(default="kratix", description="Author name.")
    email: str | None = Field(default=None, description="Author e-mail.")


class GitStateStoreSpec(KubeModel):
    """A branch of a Git repository."""

    url: str = Field(min_length=1, description="Repository URL (https://, ssh:// or git@host:path).")
    branch: str = Field(default="main", min_length=1, description="Branch to commit to.")
    path: str | None = Field(
        default=None, description="Directory inside the repository; a leading / is ignored."
    )
    secret_ref: GitSecretRef | None = Field(
        default=None,
        description="Secret with the credentials: basicAuth: username, password; ssh: sshPrivateKey, "
        "knownHosts; githubApp: appID, installationID, privateKey.",
    )
    auth_method: Literal["basicAuth", "ssh", "githubApp"] = Field(
        default="basicAuth", description="How to authenticate."
    )
    git_author: GitAuthor = Field(default_factory=GitAuthor, description="Author of the commits.")
    insecure_skip_tls_verify: bool = Field(
        default=False,
        description="Do not verify the server's TLS certificate (kratix-py extension; Kratix never verifies it).",
    )

    @model_validator(mode="after")
    def _credentials_for_key_based_auth(self) -> GitStateStoreSpec:
        if self.auth_method in ("ssh", "githubApp") and not (self.secret_ref and self.secret_ref.name):
            raise ValueError(
                f"secretRef.name is required with authMethod {self.auth_method}: "
                "name the Secret holding the key"
            )
        return self


class StateStoreStatus(HasConditions):
    """Readiness of a state store (condition Ready) as last checked."""

    status: str | None = Field(default=None, description="Ready or NotReady.")
    observed_generation: int | None = None


class GitStateStore(KubeObject):
    """A Git repository branch that Destinations' files are committed to."""

    KIND: ClassVar[str] = "GitStateStore"
    PLURAL: ClassVar[str] = "gitstatestores"
    NAMESPACED: ClassVar[bool] = False
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("gss",)

    kind: Literal["GitStateStore"] = "GitStateStore"
    spec: GitStateStoreSpec
    status: StateStoreStatus = Field(default_factory=StateStoreStatus)


class BucketStateStoreSpec(KubeModel):
    """An S3-compatible bucket."""

    endpoint: str = Field(min_length=1, description="host[:port] of the S3 API, without a scheme.")
    bucket_name: str = Field(min_length=1, description="Name of the bucket.")
    path: str | None = Field(default=None, description="Key prefix inside the bucket.")
    insecure: bool = Field(default=False, description="Use plain HTTP instead of HTTPS.")
    use_dual_stack: bool = Field(default=False, description="Use AWS dual-stack (IPv6) endpoints.")
    auth_method: Literal["accessKey", "IAM"] = Field(
        default="accessKey", description="accessKey: keys from secretRef; IAM: the pod's own AWS identity."
    )
    secret_ref: SecretReference | None = Field(
        default=None, description="Secret with accessKeyID and secretAccessKey (authMethod accessKey)."
    )

    @field_validator("endpoint")
    @classmethod
    def _no_scheme(cls, endpoint: str) -> str:
        if "://" in endpoint:
            raise ValueError(
                f"endpoint {endpoint!r} must be host[:port] without a scheme; "
                "set insecure: true for plain HTTP"
            )
        return endpoint

    @model_validator(mode="after")
    def _keys_for_access_key_auth(self) -> BucketStateStoreSpec:
        if self.auth_method == "accessKey" and not (
            self.secret_ref and self.secret_ref.name and self.secret_ref.namespace
        ):
            raise ValueError(
                "secretRef.name and secretRef.namespace are required with authMethod accessKey: "
                "name the Secret holding accessKeyID and secretAccessKey (or use authMethod IAM)"
            )
        return self


class BucketStateStore(KubeObject):
    """An S3-compatible bucket that Destinations' files are uploaded to."""

    KIND: ClassVar[str] = "BucketStateStore"
    PLURAL: ClassVar[str] = "bucketstatestores"
    NAMESPACED: ClassVar[bool] = False
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("bss",)

    kind: Literal["BucketStateStore"] = "BucketStateStore"
    spec: BucketStateStoreSpec
    status: StateStoreStatus = Field(default_factory=StateStoreStatus)
