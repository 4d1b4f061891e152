FROM busybox
FOOBAR x
