# syntax=docker/dockerfile:1
# KubePulse container image: one static-ish Rust binary on distroless, non-root, no shell.
# The default model is embedded in the binary, so the image needs no volume:
#   docker build -t kubepulse . && docker run --rm -p 5000:5000 kubepulse
# checkov:skip=CKV_DOCKER_2: no HEALTHCHECK: the runtime image has no shell or curl, and Kubernetes probes /healthz and /readyz (deploy/kustomize/base/deployment.yaml)

# ---- build: release binary -------------------------------------------------------------------
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds (BuildKit); the binary is copied
# out of the cached target dir because cache mounts are not part of the image.
# The image's binary carries no debug info or symbols (the repo's release profile keeps line tables
# for profiling): ~10x smaller.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked -p kubepulse \
    && install -D -m 0755 target/release/kubepulse /out/kubepulse

# ---- runtime: glibc + libgcc only, uid/gid 65532 ----------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="kubepulse" \
      org.opencontainers.image.description="Predicts Kubernetes failures before they happen" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/kubepulse /usr/local/bin/kubepulse
# numeric, so that Kubernetes' runAsNonRoot can verify it
USER 65532:65532
# serve: HTTP API, dashboard, /healthz, /readyz, /metrics (watch's /metrics is on 9464)
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/kubepulse"]
CMD ["serve"]
