/** Encrypts secrets at rest (cloud credentials, SSH keys). */
export interface SecretBox {
  seal(plaintext: Buffer | string): Buffer;
  open(ciphertext: Buffer): Buffer;
}
