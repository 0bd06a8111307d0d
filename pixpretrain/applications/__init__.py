"""Applications: whole programs built on the API floor (``pixpretrain.apis``)
and the libraries below it, each a package with a settings object and a
function that runs it; ``tools/`` holds their command lines."""
