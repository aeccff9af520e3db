# syntax=docker/dockerfile:1
#
# ctverify container image: `docker build -t ctverify .` (see deploy/README.md).
#
# Two stages. The builder and the runtime must agree on glibc: the binary links glibc
# dynamically and needs a glibc at least as new as the one it was built against, so a Debian 12
# (bookworm, glibc 2.36) builder goes with a Debian 12 runtime. Override both together, e.g.
#   --build-arg RUST_IMAGE=rust:1.95-slim-trixie --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian13:nonroot
# For reproducible images pin both by digest (IMAGE:TAG@sha256:...).

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder

WORKDIR /build

# The whole workspace goes in at once: the root crate, Cargo.lock and the `testgen` member (a
# workspace member must be present for Cargo to load the workspace, even though the binary does
# not use it). .dockerignore keeps everything else (target/, .git, fuzz/, vectors/, ...) out.
# Copying the manifests first to cache dependencies would need stub sources for both members;
# the cache mounts below keep the registry and the compiled dependencies between builds instead.
COPY . .

# The slim image has gcc and libc6-dev, which is all the C in the dependency tree needs
# (ring, aws-lc-sys through its cc builder, libdeflate-sys). `--locked`: the build uses exactly
# Cargo.lock. The `dist` profile is `release` without debug info, stripped.
# target/ is a cache mount, so the binary is copied out of it within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --locked --profile dist --bin ctverify \
 && install -D -m 0755 target/dist/ctverify /out/ctverify \
 && /out/ctverify --version

# ---------------------------------------------------------------------------------------------
# Runtime: distroless "cc". Why this one:
#  - it has exactly what the binary needs at run time: glibc, libgcc_s (unwinding), and the CA
#    certificates (/etc/ssl/certs/ca-certificates.crt) that rustls needs for HTTPS to AWS;
#    ctverify uses rustls, so no OpenSSL;
#  - no shell, no package manager: nothing to patch but glibc, and nothing an attacker could use
#    inside a container that holds read access to an audit trail;
#  - the `:nonroot` tag runs as UID/GID 65532 (declared in its /etc/passwd), which Kubernetes
#    `runAsNonRoot` and AWS Batch `user` can check because USER below is numeric;
#  - about 25 MB of base under the ~22 MB binary, against ~75 MB for debian:bookworm-slim
#    before ca-certificates are even installed.
# `scratch` would need a static (musl) build and copied certificates; Alpine is musl too.
# For debugging use the `:debug-nonroot` tag (it adds a busybox shell), never in production.
FROM ${RUNTIME_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/OWNER/ctverify
LABEL org.opencontainers.image.title="ctverify" \
      org.opencontainers.image.description="Prove whether AWS CloudTrail logs are intact: walks digest chains, checks every signature and hash" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=builder /out/ctverify /usr/local/bin/ctverify

# Spill files go to the temporary directory: with a read-only root filesystem, mount a writable
# volume here (Kubernetes emptyDir, AWS Batch volume: see deploy/).
ENV TMPDIR=/tmp
USER 65532:65532
WORKDIR /tmp

ENTRYPOINT ["/usr/local/bin/ctverify"]
CMD ["--help"]
