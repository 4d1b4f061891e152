# escape=`

FROM mcr.microsoft.com/windows/servercore
ENV GOPATH \go
RUN dir c:\ `
    && echo done
COPY . c:\app\
RUN echo `` literal-backtick-at-end ``
LABEL path="c:\windows" quote="a`"b"
