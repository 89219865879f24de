#!/bin/bash
# devstack plugin of nova_gpu_ext: installs the package into nova's venv
# and writes the lines "nova-gpu-ext genconf" renders for each role into
# the nova.conf files, in post-config as other nova plugins do.

function install_nova_gpu_ext {
    setup_develop "$NOVA_GPU_EXT_DIR"
}

# genconf_into ROLE FILE: ROLE's rendered nova.conf lines into FILE.
function genconf_into {
    local role=$1 file=$2
    nova-gpu-ext genconf --catalog "$NOVA_GPU_EXT_CATALOG" --role "$role" \
        | sudo tee "$file" >/dev/null
}

function configure_nova_gpu_ext {
    local conf_dir
    conf_dir=$(dirname "$NOVA_CONF")
    if is_service_enabled n-cpu; then
        genconf_into compute "$conf_dir/nova-gpu-ext-compute.conf"
        merge_into "$NOVA_CPU_CONF" "$conf_dir/nova-gpu-ext-compute.conf"
    fi
    if is_service_enabled n-sch && [[ "$NOVA_GPU_EXT_ENABLE_SCHEDULER" == "True" ]]; then
        genconf_into scheduler "$conf_dir/nova-gpu-ext-scheduler.conf"
        merge_into "$NOVA_CONF" "$conf_dir/nova-gpu-ext-scheduler.conf"
    else
        genconf_into controller "$conf_dir/nova-gpu-ext-controller.conf"
        merge_into "$NOVA_CONF" "$conf_dir/nova-gpu-ext-controller.conf"
    fi
}

# merge_into CONF RENDERED: the rendered sections appended to CONF after
# removing the options they set, so each option is written once (iniset
# cannot write multi-valued options such as available_filters).
function merge_into {
    local conf=$1 rendered=$2 section="" line key
    while IFS= read -r line; do
        if [[ "$line" =~ ^\[(.*)\]$ ]]; then
            section=${BASH_REMATCH[1]}
        elif [[ "$line" =~ ^([a-z_]+)\ = && -n "$section" ]]; then
            key=${BASH_REMATCH[1]}
            inidelete "$conf" "$section" "$key"
        fi
    done < "$rendered"
    sudo cat "$rendered" | sudo tee -a "$conf" >/dev/null
}

if is_service_enabled n-sch n-api n-cpu; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing nova_gpu_ext"
        install_nova_gpu_ext
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring nova for nova_gpu_ext"
        configure_nova_gpu_ext
    fi
fi
