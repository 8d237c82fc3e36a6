# kratix-py: one image for the operator and the pipeline adapter (reader, work-writer, status-writer).
#
# Anywhere with a registry:   docker build -t kratix-py:0.1.0 .
# With a local base image and a prebuilt site-packages folder (no network during the build):
#   podman build --build-arg BASE_IMAGE=localhost/kratix-py-base:bookworm \
#                --build-arg SITE_STAGE=site-prebuilt --network host <context with site/>
# (kratix_py.local_platform.kratix_image prepares that context and runs the build; the git step
# needs the base image's Debian mirror, INSTALL_GIT=false leaves it out.)

ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG SITE_STAGE=site-from-pip

# The Python packages, installed from PyPI into a plain folder.
FROM ${BASE_IMAGE} AS site-from-pip
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The image runs the operator and the pipeline adapter only: the local platform, the test fixtures
# and the authoring tools stay out (kratix_py.local_platform.kratix_image.IMAGE_LEAVES_OUT).
RUN python3 -m pip install --no-cache-dir --target /site . \
    && rm -rf /site/bin /site/kratix_py/local_platform /site/kratix_py/testing /site/kratix_py/authoring

# The same folder, prepared outside the build (for builders without network access).
FROM scratch AS site-prebuilt
COPY site /site

FROM ${SITE_STAGE} AS site

FROM ${BASE_IMAGE}
ARG INSTALL_GIT=true
# The operator's Git state-store writer shells out to git (and ssh for ssh:// remotes).
RUN if [ "$INSTALL_GIT" = "true" ] && ! command -v git >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
      && apt-get clean && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=site /site /opt/kratix-py/site
COPY --chmod=0755 docker/kratix-py /usr/local/bin/kratix-py
ENV PYTHONPATH=/opt/kratix-py/site \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# Non-root, numeric so runAsNonRoot can verify it without an /etc/passwd entry.
USER 65532:65532
ENTRYPOINT ["kratix-py"]
CMD ["operator"]
