ARG GLOBAL=default
ARG NO_DEFAULT
FROM busybox
ENV A=1 B="two words" C='single $quoted' D=escaped\ space E=
ENV LEGACY value with   spaces
ENV LEGACY2 "quoted legacy"
LABEL org.opencontainers.image.title="My App" version=1.0 "quoted key"=v
LABEL multi="line \
continued"
ARG X Y=2 Z="three four" EMPTY=
ARG  GLOBAL
