# comment

   # another
