# The package index: one chunk of one (sub-)set of the package set, as JSON facts per package.
# The origin calls this once per chunk (a separate, short nix-instantiate each), so that a set
# that does not evaluate (in nixpkgs e.g. a sub-set whose files are missing) fails only its own
# chunk, and no single evaluation holds all of nixpkgs' meta data in memory at once.
#
#   srcType, src, rev, ref, system   as for packages.nix (the source revision, via --argstr)
#   set      a JSON list: the attribute path of the set to list, [] for the top level
#   offset, limit
#            which of the set's attribute names (sorted) this chunk covers, as decimal strings
#
# Result: { total; entries; sets; } — `total` is the number of attribute names of the set,
# `entries` one record per derivation in the chunk, `sets` the names in the chunk that are
# sub-sets to list on their own (marked recurseForDerivations, or well-known nested sets of
# nixpkgs that are not marked). Every fact is read under tryEval: a package whose meta throws
# keeps what could be read. Aliases are left out (allowAliases = false).
args@{ set ? "[]", offset ? "0", limit ? "2000", ... }:
let
  inherit (builtins)
    attrNames concatStringsSep elem filter fromJSON genList head isAttrs isList isString
    length map parseDrvName tryEval;

  selected = import ./packages.nix
    ((removeAttrs args [ "set" "offset" "limit" ]) // { allowAliases = "false"; });
  path = fromJSON set;
  target = builtins.foldl' (value: name: value.${name}) selected.packageSet path;
  names = attrNames target;
  total = length names;
  first = fromJSON offset;
  count = let wanted = fromJSON limit; rest = total - first; in
    if rest < 0 then 0 else if wanted < rest then wanted else rest;

  # nixpkgs' nested package sets that are not marked for recursion in every release.
  wellKnown = [
    "python3Packages" "haskellPackages" "perlPackages" "nodePackages" "xorg"
    "ocamlPackages" "rubyPackages" "luaPackages" "emacsPackages" "vimPlugins" "gnome3"
    "libsForQt5" "kdeApplications" "linuxPackages" "rPackages" "beamPackages" "elmPackages"
  ];
  # Sets that are the whole package set again (cross and variant package sets), never listed.
  excluded = [
    "pkgs" "buildPackages" "targetPackages" "__splicedPackages" "pkgsCross" "pkgsi686Linux"
    "pkgsMusl" "pkgsStatic" "pkgsLLVM" "pkgsHostHost" "pkgsBuildBuild" "pkgsBuildHost"
    "pkgsBuildTarget" "pkgsHostTarget" "pkgsTargetTarget" "callPackage" "newScope" "lib"
  ];

  safely = default: value:
    let t = tryEval (builtins.deepSeq value value);
    in if t.success then t.value else default;
  string = value: if isString value then value else "";

  isDerivation = value:
    let t = tryEval (isAttrs value && (value.type or null) == "derivation");
    in t.success && t.value;
  isSubSet = name: value:
    !(elem name excluded) && length path < 3 &&
    (let
      t = tryEval (isAttrs value
        && ((value.recurseForDerivations or false) == true || (path == [ ] && elem name wellKnown)));
    in t.success && t.value);

  licenseOf = meta:
    let
      raw = meta.license or [ ];
      all = if isList raw then raw else [ raw ];
      idOf = l:
        if isString l then l
        else if isAttrs l then string (l.shortName or l.spdxId or l.fullName or "")
        else "";
    in {
      license = concatStringsSep ", " (filter (id: id != "") (map idOf all));
      unfree = builtins.any (l: (isAttrs l && (l.free or true) == false) || l == "unfree") all;
    };

  entry = name: drv:
    let
      parsed = safely { name = ""; version = ""; } (parseDrvName (string (drv.name or "")));
      # Shallow: each fact below is read under its own tryEval (forcing all of meta, with its
      # maintainers and platforms, would cost time and fail for one bad field).
      meta = let t = tryEval (isAttrs (drv.meta or null)); in if t.success && t.value then drv.meta else { };
      licensing = safely { license = ""; unfree = false; } (licenseOf meta);
    in {
      attr = concatStringsSep "." (path ++ [ name ]);
      name = safely parsed.name (let p = string (drv.pname or ""); in if p != "" then p else parsed.name);
      version = safely parsed.version (let v = string (drv.version or ""); in if v != "" then v else parsed.version);
      description = safely "" (string (meta.description or ""));
      inherit (licensing) license unfree;
      broken = safely false ((meta.broken or false) == true);
      insecure = safely false ((meta.knownVulnerabilities or [ ]) != [ ]);
    };

  # One value per name of the chunk: its entry, the sub-set's name, or null (neither). Each is
  # announced on stderr first ("trace: nixery-index N NAME"), in order: an error that tryEval cannot
  # catch (e.g. importing a missing file) stops the whole evaluation, and the last announced
  # index tells the origin which attribute to record as failed and to step over next time.
  classify = i:
    let
      name = builtins.elemAt names (first + i);
      value = target.${name};
    in
    builtins.trace "nixery-index ${toString (first + i)} ${name}" (
      # Forced whole here, so that an error in any of its facts happens under this announcement.
      let
        result =
          if isDerivation value then { entry = entry name value; }
          else if isSubSet name value then { set = name; }
          else null;
      in builtins.deepSeq result result);
  classified = filter (c: c != null) (genList classify count);
in
{
  inherit total;
  entries = map (c: c.entry) (filter (c: c ? entry) classified);
  sets = map (c: c.set) (filter (c: c ? set) classified);
}
