FROM busybox
CMD ["echo", "exec form"]
CMD [ "spaced" ,"json" ]
CMD ['single', 'quotes']
CMD ["unterminated", "bracket"
CMD ["missing" "comma"]
CMD ["trailing", "comma",]
CMD ["a"] trailing text
CMD []
ENTRYPOINT []
ENTRYPOINT ["/bin/sh", "-c", "echo \"quoted\" \\ \u00e9"]
ENTRYPOINT echo shell form
RUN [ "echo", "json run" ]
RUN ["echo"
COPY ["with space.txt", "/dest dir/"]
VOLUME ["/one", "/two"]
VOLUME /three /four
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
