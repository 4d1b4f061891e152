# syntax=example/frontend
FROM busybox
# escape=`
RUN echo still backslash \
    continued
