; LabVirt test guest: a BIOS boot sector that counts its own boots.
;
; Sector 1 (LBA 1) of the boot disk holds the counter block:
;   bytes 0-3  "LVBC"   magic
;   byte  4    mode     0 = wait for the ACPI power button, then power off
;                       1 = power off at once after printing
;                       2 = ignore the power button (forces a supervisor to escalate)
;   bytes 8-11 count    boots so far (little endian)
;
; Each boot increments the count, writes the block back, and prints
;   LABVIRT-GUEST boot=N mode=M
; to COM1 and to the VGA text console. Booted from a CD-ROM (El Torito, no
; emulation) it prints "LABVIRT-GUEST boot=cdrom" instead and counts nothing.

bits 16
org 0x7c00

COM1      equ 0x3f8
BLOCK     equ 0x7e00            ; where LBA 1 is read to
PIIX4_PM  equ 0x80000b40        ; PCI config address: bus 0, dev 1, fn 3, reg 0x40 (PM base)

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    cld
    mov [drive], dl

    mov dx, COM1 + 3            ; 8N1, no divisor latch
    mov al, 3
    out dx, al

    ; Enable the ACPI power button first, so a press while we print is not lost.
    in al, 0xa1                 ; mask IRQ 9 (the SCI): the BIOS cannot clear it,
    or al, 0x02                 ; so a level-triggered storm would starve the loop
    out 0xa1, al
    call pm_base
    add dx, 2                   ; PM1_EN: PWRBTN_EN
    mov ax, 0x0100
    out dx, ax

    cmp byte [drive], 0xe0      ; SeaBIOS numbers El Torito drives from 0xe0
    jb .disk
    mov si, msg_cdrom
    call print
    jmp wait_button

.disk:
    mov ax, 0x0201              ; read 1 sector
    mov cx, 0x0002              ; cylinder 0, sector 2 (= LBA 1)
    xor dh, dh
    mov dl, [drive]
    mov bx, BLOCK
    int 0x13
    jc io_error

    cmp dword [BLOCK], 'LVBC'
    je .counted
    mov dword [BLOCK], 'LVBC'   ; a blank disk starts counting from zero
    mov byte [BLOCK + 4], 0
    mov dword [BLOCK + 8], 0
.counted:
    add dword [BLOCK + 8], 1

    mov ax, 0x0301              ; write it back
    mov cx, 0x0002
    xor dh, dh
    mov dl, [drive]
    mov bx, BLOCK
    int 0x13
    jc io_error

    mov si, msg_boot
    call print
    mov ax, [BLOCK + 8]
    call print_dec
    mov si, msg_mode
    call print
    xor ah, ah
    mov al, [BLOCK + 4]
    call print_dec
    mov si, msg_eol
    call print

    mov al, [BLOCK + 4]
    cmp al, 1
    je power_off
    cmp al, 2
    je halt_forever

wait_button:                    ; poll PWRBTN_STS (enabled at start)
    call pm_base
.poll:
    hlt                         ; the timer tick wakes us ~18 times a second
    in ax, dx
    test ax, 0x0100
    jz .poll
    mov si, msg_button
    call print
    ; fall through

power_off:                      ; PM1a_CNT: SLP_TYP 0 (QEMU's S5), SLP_EN
    mov si, msg_off
    call print
    call pm_base
    add dx, 4
    mov ax, 0x2000
    out dx, ax
    ; fall through if power-off did not happen

halt_forever:
    hlt
    jmp halt_forever

io_error:
    mov si, msg_ioerr
    call print
    jmp halt_forever

; dx <- ACPI PM I/O base of the PIIX4 power management function
pm_base:
    mov eax, PIIX4_PM
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    and ax, 0xffc0
    mov dx, ax
    ret

; print the zero-terminated string at ds:si
print:
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

; print ax in decimal
print_dec:
    xor cx, cx
    mov bx, 10
.div:
    xor dx, dx
    div bx
    push dx
    inc cx
    test ax, ax
    jnz .div
.out:
    pop ax
    add al, '0'
    call putc
    loop .out
    ret

; write al to the VGA console (BIOS teletype) and to COM1
putc:
    push ax
    push bx
    push dx
    mov ah, 0x0e
    xor bx, bx
    int 0x10
    mov bl, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov dx, COM1
    mov al, bl
    out dx, al
    pop dx
    pop bx
    pop ax
    ret

msg_boot:   db 'LABVIRT-GUEST boot=', 0
msg_mode:   db ' mode=', 0
msg_eol:    db 13, 10, 0
msg_cdrom:  db 'LABVIRT-GUEST boot=cdrom', 13, 10, 0
msg_button: db 'LABVIRT-GUEST power button', 13, 10, 0
msg_off:    db 'LABVIRT-GUEST power off', 13, 10, 0
msg_ioerr:  db 'LABVIRT-GUEST disk error', 13, 10, 0
drive:      db 0

times 510 - ($ - $$) db 0
dw 0xaa55
