// Parameters that are words (what a file is, why it failed) are translated with the message;
// names and paths are not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMessage, LabvirtError, paramText, phrase } from '../../src/domain/errors.js';
import { fileError } from '../../src/system/file-errors.js';
import { translator } from '../../src/i18n/translator.js';

describe('translated phrases in error parameters', () => {
  const es = translator('es');

  it('translates a phrase parameter in the caller’s language, and leaves paths alone', () => {
    const error = new LabvirtError('FILE_NOT_FOUND', {
      what: phrase('disk image'),
      path: '/x/disk image',
    });
    assert.equal(
      formatMessage(error.code, error.params),
      'disk image "/x/disk image" does not exist',
    );
    assert.equal(
      formatMessage(error.code, error.params, (msgid) => es.t(msgid)),
      'la imagen de disco "/x/disk image" no existe',
    );
  });

  it('fills a phrase’s own parameters after translating it', () => {
    const reason = phrase('its size {size} bytes is not a whole number of {sector}-byte sectors', {
      size: 6,
      sector: 512,
    });
    const error = new LabvirtError('IMAGE_NOT_AN_IMAGE', { path: 'a.img', reason });
    assert.equal(paramText(reason), 'its size 6 bytes is not a whole number of 512-byte sectors');
    assert.equal(
      formatMessage(error.code, error.params, (msgid) => es.t(msgid)),
      '"a.img" no es una imagen de disco: su tamaño de 6 bytes no es un número entero de sectores de 512 bytes',
    );
  });

  it('translates the reason the file system gave', () => {
    const error = fileError(
      '/x',
      phrase('disk image'),
      Object.assign(new Error('no'), { code: 'EACCES' }),
    );
    assert.ok(error instanceof LabvirtError);
    assert.equal(
      formatMessage(error.code, error.params, (msgid) => es.t(msgid)),
      'la imagen de disco "/x" no se puede leer: permiso denegado',
    );
  });
});
