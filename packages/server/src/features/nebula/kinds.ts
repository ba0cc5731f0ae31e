/**
 * Offline-package apps and mini programs are both Nebula packages, stored in the
 * same tables and delivered by the same engine. The vendor console gives them
 * ids of different lengths (8 and 16 digits), so the id alone tells which
 * family of actions owns a row: each family sees only its own apps, packages
 * and tasks, and answers with its own error codes.
 */
export type Kind = 'nebula' | 'mini';

export const ID_LENGTH: Record<Kind, number> = { nebula: 8, mini: 16 };

export const kindOfId = (h5Id: string): Kind => (h5Id.length === ID_LENGTH.mini ? 'mini' : 'nebula');

export interface KindWords {
  app: string;
  pkg: string;
  appNotFound: string;
  packageNotFound: string;
  taskNotFound: string;
}

export const WORDS: Record<Kind, KindWords> = {
  nebula: { app: 'H5 app', pkg: 'offline package', appNotFound: 'NebulaAppNotFound', packageNotFound: 'NebulaResourceNotFound', taskNotFound: 'NebulaTaskNotFound' },
  mini: { app: 'mini program', pkg: 'mini program package', appNotFound: 'MiniAppNotFound', packageNotFound: 'MiniPackageNotFound', taskNotFound: 'MiniTaskNotFound' },
};
