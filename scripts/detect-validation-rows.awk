# One line per row of a bench-detect results.csv: the validation comparisons' summary.
# Usage: awk -F, -v n=NAME -f scripts/detect-validation-rows.awk results.csv
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
  printf "%-20s %-6s K=%s seed %s  validation AP50 %.3f  AP %.3f  step peak %.1f MiB  %.0f s\n",
    n, $col["method"], $col["k"], $col["seed"], $col["ap50"], $col["ap"], $col["step_peak_bytes"] / 1048576, $col["seconds"]
}
