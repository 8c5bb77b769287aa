# Package selection for the origin: import a package set from a path, a git commit, a channel
# tarball or a flake, look up the requested attribute paths, and say which exist with their derivations
# (`report`; evaluating it writes the .drv files that the origin then realises), or why one does
# not evaluate (`explain`). The origin passes every argument with --argstr, so user text is only
# ever data here.
#
#   srcType  "path" | "git" | "channel" | "flake"
#   src      an absolute path, a git URL, a tarball URL, or a locked flake reference
#   rev      git: the full 40-hex commit ("" = let Nix pick, only sensible for local repositories)
#   ref      git: the ref that holds `rev`, e.g. "refs/tags/v1" ("" = unknown: fetch all refs)
#   system   e.g. "x86_64-linux"
#   names    a JSON list of dot-separated attribute paths, e.g. ["hello","xorg.xev"]
#   allowUnfree, allowInsecure, allowBroken
#            "true" or "false": the package set's config (nixpkgs refuses unfree, insecure and
#            broken packages unless its config allows them; a flake instantiates its nixpkgs
#            itself, so there the origin sets NIXPKGS_ALLOW_* in the environment instead)
#   allowAliases
#            "false" for the package index (index.nix): nixpkgs then leaves out its aliases
#
# Names are looked up in `roots`, in order: the imported set, or for a flake its
# packages.<system> and then its legacyPackages.<system> (a nixpkgs flake has only the latter).
# The flake is read with builtins.getFlake, which in pure evaluation accepts only a locked
# reference; the origin passes the reference `nix flake metadata` locked (evaluation here is
# impure, but what was locked is what is evaluated, and the flake's own flake.lock pins its
# inputs: getFlake neither updates nor writes it).
{ srcType, src, rev ? "", ref ? "", system ? builtins.currentSystem, names ? "[]"
, allowUnfree ? "false", allowInsecure ? "false", allowBroken ? "false", allowAliases ? "true" }:
let
  inherit (builtins)
    attrNames concatStringsSep filter foldl' fromJSON functionArgs hasAttr isAttrs
    isFunction isString listToAttrs map replaceStrings split tryEval;

  source =
    if srcType == "path" then /. + src
    else if srcType == "git" then
      builtins.fetchGit ({ url = src; }
        // (if rev != "" then { inherit rev; } else { })
        // (if ref != "" then { inherit ref; } else { })
        # Without a ref Nix fetches only the default branch of a remote; a bare commit may
        # live elsewhere (e.g. under a tag), so look at every ref.
        // (if ref == "" && rev != "" then { allRefs = true; } else { }))
    else if srcType == "channel" then builtins.fetchTarball src
    else if srcType == "flake" then null
    else throw "packages.nix: unknown srcType '${srcType}'";

  # nixpkgs takes `system`, `config` and `overlays` (the origin's own config and no overlays, so
  # that the host user's ~/.config/nixpkgs cannot change images); a small set may take none.
  # Insecure packages are all allowed or none (nixpkgs' NIXPKGS_ALLOW_INSECURE=1 does the same).
  allow = {
    unfree = allowUnfree == "true";
    insecure = allowInsecure == "true";
    broken = allowBroken == "true";
  };
  config = { allowUnfree = allow.unfree; allowBroken = allow.broken; }
    // (if allowAliases == "false" then { allowAliases = false; } else { })
    // (if allow.insecure then { allowInsecurePredicate = _: true; } else { });
  imported = import source;
  accepted = if isFunction imported then functionArgs imported else { };
  pkgs =
    if isFunction imported then
      imported ((if accepted ? system then { inherit system; } else { })
        // (if accepted ? config then { inherit config; } else { })
        // (if accepted ? overlays then { overlays = [ ]; } else { }))
    else imported;

  flake = builtins.getFlake src;
  # The sets names are looked up in, first match wins, each with the attribute path leading to it.
  roots =
    if srcType == "flake" then
      filter (root: root.value != null) [
        { prefix = [ "packages" system ]; value = flake.packages.${system} or null; }
        { prefix = [ "legacyPackages" system ]; value = flake.legacyPackages.${system} or null; }
      ]
    else [ { prefix = [ ]; value = pkgs; } ];

  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  toLower = replaceStrings upper lower;

  # Registry names are lowercase; an attribute that is not found as written is retried through
  # a lowercase → real name map of the set it is looked up in, at every level of the path. A
  # digit-first name arrives as `_7zip` (nixpkgs' spelling, as Nix identifiers cannot start with
  # a digit); a set that uses the quoted name "7zip" instead is tried next.
  realName = set: part:
    let
      unprefixed =
        if builtins.match "_[0-9].*" part != null
        then [ (builtins.substring 1 (builtins.stringLength part) part) ]
        else [ ];
      candidates = [ part ] ++ unprefixed;
      exact = filter (c: hasAttr c set) candidates;
      byLower = listToAttrs (map (n: { name = toLower n; value = n; }) (attrNames set));
      lowered = filter (n: n != null) (map (c: byLower.${c} or null) candidates);
    in
    if exact != [ ] then builtins.head exact
    else if lowered != [ ] then builtins.head lowered
    else null;

  # One step of a path: the next set (or the final value), or null when absent or throwing.
  step = acc: part:
    if acc == null then null
    else
      let
        isSet = tryEval (isAttrs acc.value);
        real = if isSet.success && isSet.value then realName acc.value part else null;
      in
      if real == null then null
      else { path = acc.path ++ [ real ]; value = acc.value.${real}; };

  parts = name: filter (p: p != [ ]) (split "\\." name);

  # The value a dot-separated name leads to ({ root, path, value }: `path` within the root set
  # whose attribute path is `root`), or null when it leads nowhere in any root.
  walkIn = root: name:
    let found = foldl' step { path = [ ]; value = root.value; } (parts name);
    in if found == null then null else found // { root = root.prefix; };
  firstFound = candidates: name:
    if candidates == [ ] then null
    else
      let found = walkIn (builtins.head candidates) name;
      in if found != null then found else firstFound (builtins.tail candidates) name;
  walk = firstFound roots;
  # Where a found name lives, for messages: "packages.x86_64-linux.hello" in a flake.
  fullPath = found: concatStringsSep "." (found.root ++ found.path);

  # What an image installs of a package: meta.outputsToInstall when the package says so,
  # otherwise its default output (the one `outPath` names, "out" for most packages).
  outputsOf = drv: drv.meta.outputsToInstall or [ (drv.outputName or "out") ];

  # Why nixpkgs refuses a package that throws: its check-meta exposes the results of its checks
  # as meta.unfree, meta.insecure, meta.broken and meta.unsupported, which evaluate without
  # throwing. null when meta names no refused check (a throw of another kind, or a dependency's).
  # Older nixpkgs (e.g. 20.09) expose only meta.broken: unfree and insecure are then read from
  # meta.license and meta.knownVulnerabilities, as its check-meta does.
  derivedFlag = drv: flag:
    let
      licenses = let l = drv.meta.license or [ ]; in if builtins.isList l then l else [ l ];
    in
    if flag == "unfree" then
      builtins.any (l: (isAttrs l && (l.free or true) == false) || l == "unfree") licenses
    else if flag == "insecure" then (drv.meta.knownVulnerabilities or [ ]) != [ ]
    else false;
  flagged = drv: flag:
    let t = tryEval ((drv.meta.${flag} or (derivedFlag drv flag)) == true);
    in t.success && t.value;
  refusal = drv:
    let isSet = tryEval (isAttrs drv);
    in
    if !(isSet.success && isSet.value) then null
    else if flagged drv "unfree" && !allow.unfree then "unfree"
    else if flagged drv "broken" && !allow.broken then "broken"
    else if flagged drv "unsupported" then "unsupported"
    else if flagged drv "insecure" && !allow.insecure then "insecure"
    else null;
  # Every check that refuses it (a package can be unfree and broken at once), in the same order.
  refusals = drv:
    let isSet = tryEval (isAttrs drv);
    in
    if !(isSet.success && isSet.value) then [ ]
    else filter (r: r != null) [
      (if flagged drv "unfree" && !allow.unfree then "unfree" else null)
      (if flagged drv "broken" && !allow.broken then "broken" else null)
      (if flagged drv "unsupported" then "unsupported" else null)
      (if flagged drv "insecure" && !allow.insecure then "insecure" else null)
    ];
  # Short facts for the message: the derivation's name and its known vulnerabilities.
  safely = default: value:
    let t = tryEval (builtins.deepSeq value value);
    in if t.success then t.value else default;
  drvNameOf = drv: safely null (if isString (drv.name or null) then drv.name else null);
  vulnerabilitiesOf = drv:
    safely [ ] (filter isString (drv.meta.knownVulnerabilities or [ ]));

  resolve = name:
    let
      found = walk name;
      drv = found.value;
      checked = tryEval (
        isAttrs drv
        && (drv.type or null) == "derivation"
        && builtins.deepSeq (map (o: drv.${o}.outPath) (outputsOf drv)) (isString drv.drvPath)
      );
    in
    if found == null then { inherit name; missing = true; }
    else if checked.success && checked.value then {
      inherit name;
      attrPath = concatStringsSep "." found.path;
      drvPath = drv.drvPath;
      outputs = outputsOf drv;
      outPaths = map (o: drv.${o}.outPath) (outputsOf drv);
    }
    # An attribute set that is no package (e.g. `haskellPackages` itself).
    else if checked.success then { inherit name; missing = true; }
    # It exists but throws: in nixpkgs an unfree, broken or insecure package, or a bad attribute.
    else {
      inherit name;
      failed = true;
      where = fullPath found;
      reason = refusal drv;
      reasons = refusals drv;
      drvName = drvNameOf drv;
      vulnerabilities = vulnerabilitiesOf drv;
    };

  requested = fromJSON names;
  results = map resolve requested;
  foundResults = filter (r: !(r ? missing || r ? failed)) results;
  missingNames = map (r: r.name) (filter (r: r ? missing) results);
  failedResults = filter (r: r ? failed) results;

  coreutilsPath =
    let
      found = walk "coreutils";
      c = tryEval (if found == null then null else found.value.outPath);
    in if c.success then c.value else null;
in
{
  report = {
    found = map (r: { inherit (r) name attrPath drvPath outputs outPaths; }) foundResults;
    missing = missingNames;
    failed = map (r: { inherit (r) name where reason reasons drvName vulnerabilities; }) failedResults;
    coreutils = coreutilsPath;
  };

  # Forces each requested package the way `report` does but without tryEval, so that evaluating
  # this (one name at a time) fails with Nix's own message for a package `report` called failed.
  explain = map
    (name:
      let drv = (walk name).value;
      in map (o: drv.${o}.drvPath) (outputsOf drv))
    requested;

  # The origin's start-up check: does the source import to an attribute set of packages?
  isPackageSet = roots != [ ] && builtins.all (root: isAttrs root.value) roots;

  # The sets this source's names are looked up in, in order, e.g. for an index of the set:
  # [ { prefix = [ "legacyPackages" "x86_64-linux" ]; value = <the set>; } ].
  inherit roots;
  # Their attribute paths only (plain data): which of packages.<system> and
  # legacyPackages.<system> a flake has; evaluating this forces the flake's outputs.
  rootPaths = map (root: concatStringsSep "." root.prefix) roots;

  # The set the package index (index.nix) lists: the first root (for a flake, packages.<system>
  # if it has one, else legacyPackages.<system>).
  packageSet = if roots == [ ] then { } else (builtins.head roots).value;
}
