//! Configuration per file: each `.pw` file is linted with the nearest `pipewright.toml` in its
//! folder or above it, as ruff does, so a file gets the same findings whichever folder a command
//! names. A folder's file replaces the settings of the files above it; it does not merge with them.

use super::config::{ConfigError, LintConfig, FILE_NAME};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The configurations of a workspace's files.
#[derive(Clone, Debug, Default)]
pub struct Configs {
    /// The configuration of the files with no `pipewright.toml` above them (or of every file,
    /// when one was named).
    fallback: LintConfig,
    /// The configuration files read.
    found: Vec<LintConfig>,
    /// For each folder of a file, its nearest configuration: an index into `found`, or `None`
    /// for the fallback.
    by_folder: HashMap<PathBuf, Option<usize>>,
}

impl Configs {
    /// One configuration for every file.
    pub fn single(config: LintConfig) -> Self {
        Configs { fallback: config, ..Configs::default() }
    }

    /// The nearest `pipewright.toml` above each of `files`, each read once; `fallback` for the
    /// files without one. A file that cannot be read or is invalid is an error, and the files
    /// below it get the fallback.
    pub fn nearest<P: AsRef<Path>>(
        files: impl IntoIterator<Item = P>,
        fallback: LintConfig,
    ) -> (Configs, Vec<ConfigError>) {
        let mut configs = Configs::single(fallback);
        let mut read: HashMap<PathBuf, Option<usize>> = HashMap::new();
        let mut errors = Vec::new();
        for file in files {
            let folder = folder_of(file.as_ref());
            if configs.by_folder.contains_key(&folder) {
                continue;
            }
            let found = folder.ancestors().map(|d| d.join(FILE_NAME)).find(|f| f.is_file());
            let index = found.and_then(|toml| {
                *read.entry(toml.clone()).or_insert_with(|| match LintConfig::load(&toml) {
                    Ok(config) => {
                        configs.found.push(config);
                        Some(configs.found.len() - 1)
                    }
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                })
            });
            configs.by_folder.insert(folder, index);
        }
        (configs, errors)
    }

    /// The configuration of the file at `path`.
    pub fn of(&self, path: &Path) -> &LintConfig {
        self.index_of(path).map_or(&self.fallback, |i| &self.found[i])
    }

    /// The configuration files read, in the order first met.
    pub fn files(&self) -> Vec<PathBuf> {
        self.found.iter().filter_map(|c| c.file.clone()).collect()
    }

    /// The configurations for `paths`, each once, with the positions of the paths it applies to.
    pub fn groups<'p>(&self, paths: impl IntoIterator<Item = &'p Path>) -> Vec<(&LintConfig, Vec<usize>)> {
        let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for (position, path) in paths.into_iter().enumerate() {
            let index = self.index_of(path);
            match groups.iter_mut().find(|(i, _)| *i == index) {
                Some((_, members)) => members.push(position),
                None => groups.push((index, vec![position])),
            }
        }
        groups.into_iter().map(|(i, members)| (i.map_or(&self.fallback, |i| &self.found[i]), members)).collect()
    }

    fn index_of(&self, path: &Path) -> Option<usize> {
        self.by_folder.get(&folder_of(path)).copied().flatten()
    }
}

/// The absolute folder of a file, with links and `..` resolved where it exists.
fn folder_of(file: &Path) -> PathBuf {
    let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    folder.canonicalize().or_else(|_| std::path::absolute(folder)).unwrap_or_else(|_| folder.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_takes_the_nearest_file_above_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        std::fs::create_dir_all(root.join("team/sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.join("other")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join(FILE_NAME), "[lint.cost]\ntransition = \"30s\"\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("team").join(FILE_NAME), "[lint]\nignore = [\"cost\"]\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let files = [root.join("a.pw"), root.join("team/sub/b.pw"), root.join("other/c.pw")];
        let (configs, errors) = Configs::nearest(&files, LintConfig::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(configs.of(&files[0]).cost.transition_secs, 30);
        assert_eq!(configs.of(&files[2]).cost.transition_secs, 30);
        assert_eq!(configs.of(&files[1]).cost.transition_secs, LintConfig::default().cost.transition_secs);
        assert_eq!(configs.files().len(), 2);
        let groups = configs.groups(files.iter().map(PathBuf::as_path));
        let members: Vec<&[usize]> = groups.iter().map(|(_, m)| m.as_slice()).collect();
        assert_eq!(members, [&[0, 2][..], &[1][..]]);
    }

    #[test]
    fn an_invalid_file_is_an_error_and_its_files_get_the_fallback() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join(FILE_NAME), "[lint]\nselekt = []\n").unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("a.pw");
        let mut fallback = LintConfig::default();
        fallback.max_stages = 2;
        let (configs, errors) = Configs::nearest([&file, &file], fallback);
        assert_eq!(errors.len(), 1, "reported once");
        assert_eq!(configs.of(&file).max_stages, 2);
    }
}
