"""A pyserial URL handler (espsim://NAME) that answers like an ESP32 ROM download mode,
so esptool runs its real code with only the serial port replaced."""
