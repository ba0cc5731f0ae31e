import { BusinessError } from '../../core/errors.js';
import { PackageError } from '../packages/index.js';

/** Runs a package-builder step, turning its PackageError into a business failure with the same code. */
export async function asBusiness<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PackageError) throw new BusinessError(err.code, `${what}: ${err.message}`);
    throw err;
  }
}
