# syntax=docker/dockerfile:1
#
# Server mode (functions/server) and the migrator (cmd/migrate) in one image, for the container
# deployment shapes: docker-compose.scale.yml, deploy/k8s, ECS, and AWS Lambda Web Adapter
# (deploy/README.md).
#
#   docker build -t scaleapi .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=... -e REDIS_URL=... -e JWT_SECRET=... scaleapi
#   docker run --rm -e DATABASE_URL=<the primary, not the pooler> --entrypoint /migrate scaleapi up
#
# internal/deploycheck reads this file: it builds the packages the `go build` lines below name,
# with their flags, and fails when the final stage stops being distroless and non-root.

# BuildKit only (the cache mounts need it; Docker's default builder since 23.0). The builder
# runs on the build host's platform and cross-compiles to the target's: no QEMU for a
# multi-platform build (docker buildx build --platform linux/amd64,linux/arm64).
# 1.26-bookworm follows the 1.26 patch releases; go.mod's go line is the floor, and
# GOTOOLCHAIN=local makes a builder older than that fail instead of downloading a toolchain
# during the build.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local
WORKDIR /src

# Modules first, so that a source change reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
# TARGETARCH is the platform being built for (amd64, arm64), which BuildKit sets.
ARG TARGETARCH
# The flags are make build-server's: a static binary (CGO_ENABLED=0), no local paths
# (-trimpath), no symbol table or build id (-s -w -buildid=), and lambda.norpc, which leaves out
# the Lambda RPC mode that neither program uses.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOARCH=$TARGETARCH go build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -o /out/server ./functions/server
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOARCH=$TARGETARCH go build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -o /out/migrate ./cmd/migrate

# distroless/static: CA certificates (rediss://, sslmode=require), tzdata and /etc/passwd, no
# shell and no package manager. Hence no HEALTHCHECK here: there is nothing to run one with;
# the platforms probe /livez and /readyz over HTTP instead.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/server /server
COPY --from=build /out/migrate /migrate
# The nonroot user of the distroless image, by number: Kubernetes' runAsNonRoot can only verify
# a numeric user, and refuses to start a container whose image names its user.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/server"]
