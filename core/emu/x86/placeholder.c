typedef int xg_emu_x86_placeholder;
