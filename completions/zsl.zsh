#compdef zsl

_zsl_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _ZSL_COMPLETE=complete_zsh zsl)
}

compdef _zsl_completion zsl
