   from  busybox   as   Builder   
	run	echo   tabs   inside
Copy  a    b
env a b
cmd echo lower
from builder
onbuild run echo nested
