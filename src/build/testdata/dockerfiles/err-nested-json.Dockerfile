FROM busybox
CMD [ "a", [ "nested" ] ]
