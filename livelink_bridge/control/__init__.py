"""Live control: the control language (`messages`), its OSC decoder (`wire`), the guidance
state every control path posts to (`state`), the OSC control port (`server`) and the terminal
hotkeys (`hotkeys`)."""
