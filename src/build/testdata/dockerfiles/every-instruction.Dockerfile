# syntax=docker/dockerfile:1
# check=skip=JSONArgsRecommended
ARG BASE=busybox
FROM --platform=$BUILDPLATFORM ${BASE}:latest AS build
MAINTAINER Jane Doe <jane@example.com>
WORKDIR /src
COPY --chown=app:app --chmod=0644 --link --exclude=*.md --exclude=docs/ . .
ADD --chown=1000:1000 --chmod=755 --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool.tgz /opt/
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.12.0 /buildkit
ADD --unpack=false archive.tar.gz /keep/
RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked \
    --mount=type=secret,id=token,env=TOKEN,required \
    --mount=type=bind,from=deps,source=/out,target=/deps,rw \
    --mount=type=tmpfs,target=/tmp,size=64m \
    --mount=type=ssh \
    --network=none --security=sandbox \
    make build
FROM scratch AS final
COPY --from=build /src/out /app
COPY --from=0 --parents /src/./a/b /x/
ENV PATH=/app/bin:$PATH
LABEL a=b
EXPOSE 8080/tcp 53/udp ${PORT}
USER 1000:1000
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD ["/app/health"]
HEALTHCHECK NONE
SHELL ["/bin/sh", "-c"]
ONBUILD COPY . /app/src
ONBUILD RUN echo "downstream build"
ENTRYPOINT ["/app/bin/server"]
CMD ["--port", "8080"]
