FROM busybox
COPY --chown="user name" '--chmod=0755' --from=build\ er src dst
RUN -- --not-a-flag
RUN --network=host -- --after-double-dash
COPY -x src dst
