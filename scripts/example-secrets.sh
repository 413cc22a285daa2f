# Source this file (`. scripts/example-secrets.sh`) to give every secret the examples in
# examples/tenants reference a dummy value, for the embedded sandbox or a local `serve`.
# The examples reference their secrets as {secret: env:NAME}, each NAME under the default
# prefix T4O_SECRET_; a personal number must be a valid one (a made-up fødselsnummer).
for name in $(grep -rhoE 'env:[A-Za-z_][A-Za-z0-9_]*' examples/tenants | cut -d: -f2 | sort -u); do
  case "$name" in
    *_PERSONAL_NUMBER) export "$name=15037810034" ;;
    *) export "$name=demo-value-of-$name" ;;
  esac
done
unset name
