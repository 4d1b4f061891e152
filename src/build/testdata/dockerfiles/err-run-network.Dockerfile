FROM busybox
RUN --mount=type=cache,target=/x \
  --network=bridge echo
