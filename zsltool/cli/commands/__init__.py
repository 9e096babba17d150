"""One module per command group; each defines ``COMMANDS``: command name -> function (or a group's typer app)."""
