FROM busybox
RUN echo one \
# a comment between continuation lines
    two \
	# an indented comment
    three
RUN echo a \

    b
RUN apk add \
      curl \
      git   \
      && echo done
RUN echo escaped \\
RUN echo "not \\" continued
RUN echo trailing \   
RUN echo last
