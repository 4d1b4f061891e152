FROM busybox AS 9lives
