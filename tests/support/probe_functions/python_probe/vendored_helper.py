VALUE = "packaged with the function"
