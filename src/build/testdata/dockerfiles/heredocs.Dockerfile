FROM busybox
RUN <<EOF
echo "hello $USER"
# not a Dockerfile comment inside a heredoc
EOF
RUN <<-EOT sh
	echo tabs stripped
	EOT
RUN <<'QUOTED'
echo $NOT_EXPANDED
QUOTED
RUN cat <<A >/a && cat <<"B" >/b
first $X
A
second $X
B
RUN python3 <<PY
print("x")
PY
COPY <<conf.txt <<-'raw.txt' /etc/app/
	key=$VALUE
conf.txt
	literal $VALUE
	raw.txt
RUN 3<<IN cat <&3
fd three
IN
RUN ["echo", "<<NOT_A_HEREDOC"]
ONBUILD RUN <<EOF
echo triggered
EOF
